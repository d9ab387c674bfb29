package main

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// plot writes throughput.png and p99.png: one panel per group, one bar per
// server and concurrency level. It returns their paths as the README
// links them.
func (h *harness) plot(rows []row) ([]string, error) {
	dir := h.f.plots
	if dir == "" {
		dir = h.f.dir
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	metrics := []struct {
		file, title, unit string
		val               func(row) float64
	}{
		{"throughput.png", "throughput", "requests per second", func(r row) float64 { return r.RPS }},
		{"p99.png", "p99 latency", "p99 latency (ms)", func(r row) float64 { return float64(r.P99) / float64(time.Millisecond) }},
	}
	var links []string
	for _, m := range metrics {
		var plots []*plot.Plot
		for _, g := range groupRows(rows) {
			p, err := groupPlot(g, m.title, m.unit, m.val)
			if err != nil {
				return nil, err
			}
			plots = append(plots, p)
		}
		cols := 2
		rowsN := (len(plots) + cols - 1) / cols
		grid := make([][]*plot.Plot, rowsN)
		for i := range grid {
			grid[i] = make([]*plot.Plot, cols)
			for j := range cols {
				if k := i*cols + j; k < len(plots) {
					grid[i][j] = plots[k]
				}
			}
		}
		img := vgimg.NewWith(vgimg.UseWH(16*vg.Inch, vg.Length(rowsN)*5.5*vg.Inch), vgimg.UseDPI(96))
		dc := draw.New(img)
		dc.SetColor(color.White)
		dc.Fill(dc.Rectangle.Path())
		tiles := draw.Tiles{Rows: rowsN, Cols: cols, PadX: vg.Inch / 3, PadY: vg.Inch / 3, PadTop: vg.Inch / 4, PadBottom: vg.Inch / 4, PadLeft: vg.Inch / 4, PadRight: vg.Inch / 4}
		canvases := plot.Align(grid, tiles, dc)
		for i := range grid {
			for j := range grid[i] {
				if grid[i][j] != nil {
					grid[i][j].Draw(canvases[i][j])
				}
			}
		}
		path := filepath.Join(dir, m.file)
		f, err := os.Create(path)
		if err != nil {
			return nil, err
		}
		if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
		link := path
		if h.f.plotsURL != "" {
			link = h.f.plotsURL + "/" + m.file
		}
		links = append(links, link)
	}
	return links, nil
}

// groupRows splits rows by group, in order.
func groupRows(rows []row) [][]row {
	var out [][]row
	for _, r := range rows {
		if len(out) == 0 || out[len(out)-1][0].Group != r.Group {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], r)
	}
	return out
}

// groupPlot is a grouped bar chart of one group: concurrency levels on
// the x axis, one bar (colour and hatching by server) per server.
func groupPlot(g []row, title, unit string, val func(row) float64) (*plot.Plot, error) {
	var levels []int
	var servers []string
	for _, r := range g {
		if !containsInt(levels, r.C) {
			levels = append(levels, r.C)
		}
		if !containsStr(servers, r.Name) {
			servers = append(servers, r.Name)
		}
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: %s", g[0].Group, title)
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.Y.Label.Text = unit
	p.X.Label.Text = "concurrent clients (c)"
	p.Y.Min = 0
	width := vg.Points(float64(min(40, 300/len(servers))))
	top := 0.0
	for i, s := range servers {
		vals := make(plotter.Values, len(levels))
		for j, c := range levels {
			for _, r := range g {
				if r.Name == s && r.C == c {
					vals[j] = val(r)
				}
			}
			top = max(top, vals[j])
		}
		b, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return nil, err
		}
		b.Color = plotutil.Color(i)
		b.LineStyle.Width = vg.Points(0.5)
		b.Offset = vg.Length(float64(i)-float64(len(servers)-1)/2) * width
		p.Add(b)
		name := s
		if g[0].Group != "" && i == 0 {
			name += " (floor)"
		}
		p.Legend.Add(name, b)
	}
	labels := make([]string, len(levels))
	for j, c := range levels {
		labels[j] = fmt.Sprintf("c=%d", c)
	}
	p.NominalX(labels...)
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.TextStyle.Font.Size = vg.Points(10)
	p.Y.Max = top * (1.25 + 0.09*float64(len(servers)))
	p.Add(plotter.NewGrid())
	return p, nil
}

func containsInt(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func containsStr(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
