package sizing

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"

	"github.com/pgscale/pgscale/internal/report"
	"github.com/pgscale/pgscale/result"
)

// The files `pgscale size --out DIR` writes; the plot also goes to PlotName.png and .svg.
const (
	MarkdownFile = "size.md"
	HTMLFile     = "size.html"
	JSONFile     = "size.json"
)

// WriteFiles writes the sizing report into dir: size.md (the plot by file name), size.html
// (self-contained: the plot inline, the report package's page and styles), the plot as PNG and
// SVG, and size.json. A plot that cannot be drawn leaves the reports without it and is returned
// as an error after every other file is written.
func WriteFiles(dir string, r *Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var errs []error
	fig, plotErr := CapacityPlot(r)
	var mdRef, htmlRef *plotRef
	if plotErr != nil {
		errs = append(errs, plotErr)
	} else {
		errs = append(errs,
			result.WriteAtomic(filepath.Join(dir, PlotName+".png"), fig.PNG),
			result.WriteAtomic(filepath.Join(dir, PlotName+".svg"), fig.SVG))
		mdRef = &plotRef{src: PlotName + ".png", title: fig.Title, caption: fig.Caption}
		htmlRef = &plotRef{src: "data:image/png;base64," + base64.StdEncoding.EncodeToString(fig.PNG), title: fig.Title, caption: fig.Caption}
	}
	var md bytes.Buffer
	if err := writeMarkdown(&md, r, mdRef); err != nil {
		return err
	}
	errs = append(errs, result.WriteAtomic(filepath.Join(dir, MarkdownFile), md.Bytes()))
	page, err := HTML(r, htmlRef)
	if err != nil {
		errs = append(errs, err)
	} else {
		errs = append(errs, result.WriteAtomic(filepath.Join(dir, HTMLFile), page))
	}
	errs = append(errs, result.WriteFile(filepath.Join(dir, JSONFile), r))
	return errors.Join(errs...)
}

// markdownHTML renders the report's Markdown (GitHub tables) as HTML. Raw HTML in the Markdown
// is not passed through (goldmark's default), so names from a catalog or a workload cannot
// inject markup; images may be data: URIs of PNGs.
var markdownHTML = goldmark.New(goldmark.WithExtensions(
	extension.NewTable(extension.WithTableCellAlignMethod(extension.TableCellAlignStyle)),
))

// HTML is the report as one self-contained page: the Markdown rendered, with the plot inline.
func HTML(r *Report, fig *plotRef) ([]byte, error) {
	var md, body bytes.Buffer
	if err := writeMarkdown(&md, r, fig); err != nil {
		return nil, err
	}
	if err := markdownHTML.Convert(md.Bytes(), &body); err != nil {
		return nil, fmt.Errorf("size.html: %w", err)
	}
	// Wide tables scroll inside the page rather than widening it (the report's .scroll style).
	html := strings.NewReplacer("<table>", `<div class="scroll"><table>`, "</table>", "</table></div>").Replace(body.String())
	title := "Sizing: " + r.Workload.Name
	return report.HTMLPage(title, template.HTML(html)), nil //nolint:gosec // rendered from Markdown with raw HTML disabled
}
