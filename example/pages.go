package main

// Page rendering: one html/template set per page, each made of the shared
// layout and the page's own file.

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"

	"github.com/ginsecure/ginsecure"
)

var pageNames = []string{"login", "profile", "sessions", "admin", "reauth", "parallel", "error"}

var funcs = template.FuncMap{
	"ago":     ago,
	"browser": browserName,
	"dur":     dur,
}

func parsePages() (map[string]*template.Template, error) {
	pages := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// page serves a page that needs no data of its own.
func (a *app) page(name string) gin.HandlerFunc {
	return func(c *gin.Context) { a.render(c, http.StatusOK, name, gin.H{}) }
}

// render executes a page with what every page shows: the signed-in user,
// flash messages, the visit counter kept in the gin-contrib session.
func (a *app) render(c *gin.Context, status int, name string, data gin.H) {
	id, ok := ginsecure.UserID(c)
	data["Page"] = name
	data["SignedIn"] = ok
	if ok {
		data["Me"] = users[id]
	}
	// With the store unreachable the Guard cannot tell whether this
	// browser is signed in, and it very likely still is: the page shows
	// neither "Sign in" nor a page counter read from a session that may
	// not have loaded.
	if status == http.StatusServiceUnavailable && !ok {
		data["Unknown"] = true
	} else {
		s := sessions.Default(c)
		if f := s.Flashes(); len(f) > 0 {
			data["Flashes"] = f
			_ = s.Save()
		}
		data["Visits"], _ = s.Get("visits").(int)
	}
	data["Grace"], data["Rotate"] = a.opts.Grace, a.opts.Rotate

	var buf bytes.Buffer
	if err := a.pages[name].ExecuteTemplate(&buf, "layout", data); err != nil {
		a.opts.Logger.Error("example: template", "page", name, "err", err)
		c.String(http.StatusInternalServerError, "template error")
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

func (a *app) renderError(c *gin.Context, status int, title, text string) {
	a.render(c, status, "error", gin.H{"Title": title, "Text": text, "Status": status})
}

func reqCtx(c *gin.Context) context.Context { return c.Request.Context() }

// dur prints 5m rather than 5m0s.
func dur(d time.Duration) string {
	switch {
	case d > 0 && d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d > 0 && d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	default:
		return d.String()
	}
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := time.Since(t).Round(time.Second)
	switch {
	case d < 5*time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%d seconds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	default:
		return t.Format("Jan 2, 15:04")
	}
}

// browserName turns a user agent into something a person recognises.
func browserName(ua string) string {
	name := "Unknown browser"
	for _, b := range []struct{ token, name string }{
		{"HeadlessChrome", "Headless Chrome"}, {"Edg/", "Edge"}, {"Chrome/", "Chrome"},
		{"Firefox/", "Firefox"}, {"Safari/", "Safari"}, {"curl/", "curl"},
	} {
		if strings.Contains(ua, b.token) {
			name = b.name
			break
		}
	}
	for _, o := range []struct{ token, name string }{
		{"Android", "Android"}, {"iPhone", "iPhone"}, {"Mac OS X", "macOS"},
		{"Windows", "Windows"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, o.token) {
			return name + " on " + o.name
		}
	}
	return name
}
