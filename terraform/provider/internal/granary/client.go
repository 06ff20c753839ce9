package granary

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client speaks the control plane's REST API. Operator calls (/v1/admin) carry the admin
// token, tenant calls the tenant's API key; either may be empty when the configuration
// does not manage that kind of resource, and a call that needs it then says so.
type Client struct {
	Host       string
	AdminToken string
	APIKey     string
	HTTP       *http.Client
	// PollInterval is how often a create or delete that the region finishes later is
	// checked again; Timeout bounds the wait.
	PollInterval time.Duration
	Timeout      time.Duration
}

// APIError is a refusal of the control plane: its status, stable code and message.
type APIError struct {
	Method, Path string
	Status       int
	Code         string
	Message      string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.Path, e.Status, e.Code, e.Message)
}

// IsNotFound is true for a 404: the object is gone (deleted out of band, or never made).
func IsNotFound(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound
}

type credential int

const (
	asAdmin credential = iota
	asTenant
)

// do sends one request to the control plane; out (if not nil) receives the JSON answer of a 2xx.
func (c *Client) do(ctx context.Context, cred credential, method, path string, in, out any) error {
	if c.Host == "" {
		return fmt.Errorf("%s %s: the provider has no host: set `host` or GRANARY_HOST", method, path)
	}
	return c.send(ctx, cred, c.Host, method, path, in, out)
}

// send is do at any base URL: the control plane's, or a project's data plane (dataPlane).
func (c *Client) send(ctx context.Context, cred credential, base, method, path string, in, out any) error {
	token, what := c.AdminToken, "`admin_token` (or GRANARY_ADMIN_TOKEN)"
	if cred == asTenant {
		token, what = c.APIKey, "`api_key` (or GRANARY_API_KEY)"
	}
	if token == "" {
		return fmt.Errorf("%s %s: the provider has no credential for this call: set %s", method, path, what)
	}
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: encoding the request: %w", method, path, err)
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %s did not answer: %w", method, path, base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		return decodeRefusal(method, path, resp.StatusCode, raw)
	}
	if out == nil || len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: unexpected answer %q: %w", method, path, truncate(raw), err)
	}
	return nil
}

// decodeRefusal turns the service's error body ({code, message} or FastAPI's {detail})
// into an APIError that names the call.
func decodeRefusal(method, path string, status int, raw []byte) error {
	var body struct {
		Code    string          `json:"code"`
		Message string          `json:"message"`
		Detail  json.RawMessage `json:"detail"`
	}
	apiErr := &APIError{Method: method, Path: path, Status: status, Code: "error", Message: truncate(raw)}
	if json.Unmarshal(raw, &body) == nil {
		if body.Code != "" {
			apiErr.Code = body.Code
		}
		if body.Message != "" {
			apiErr.Message = body.Message
		} else if len(body.Detail) > 0 {
			apiErr.Message = string(body.Detail)
		}
	}
	return apiErr
}

func truncate(raw []byte) string {
	if len(raw) > 500 {
		return string(raw[:500]) + "..."
	}
	return string(raw)
}

// poll calls check every PollInterval until it reports done, fails, or Timeout passes.
func (c *Client) poll(ctx context.Context, what string, check func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	for {
		done, err := check()
		if err != nil || done {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: still not done after %s", what, c.Timeout)
		case <-time.After(c.PollInterval):
		}
	}
}

func esc(s string) string { return url.PathEscape(s) }

// errProjectGone: the project is being deleted, and everything in it with it.
var errProjectGone = errors.New("the project is being deleted")

// DataPlane is one project's API in its region, reached with the provider's api_key.
type DataPlane struct {
	client *Client
	// Project is the project's name; base is its data plane's /api/v1/projects/<scope>.
	Project, base string
}

// dataPlane finds where project lives: the control plane names its region's data plane
// and the project's scope there, so a project that moved region (failover) is followed.
func (c *Client) dataPlane(ctx context.Context, project string) (*DataPlane, error) {
	var p Project
	if err := c.do(ctx, asTenant, http.MethodGet, projectPath(project), nil, &p); err != nil {
		return nil, err
	}
	if p.Status == "deleting" || p.Status == "deleted" {
		return nil, fmt.Errorf("project %q: %w", project, errProjectGone)
	}
	if p.Status != "ready" || p.DataPlaneURL == "" {
		return nil, fmt.Errorf("project %q is %s in region %q, not ready for feature groups", project, p.Status, p.Region)
	}
	base := strings.TrimRight(p.DataPlaneURL, "/") + "/api/v1/projects/" + esc(p.MetadataScope)
	return &DataPlane{client: c, Project: project, base: base}, nil
}

// do sends one request to the project's data plane; path is below the project.
func (d *DataPlane) do(ctx context.Context, method, path string, in, out any) error {
	return d.client.send(ctx, asTenant, d.base, method, path, in, out)
}
