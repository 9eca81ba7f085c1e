package capture

import (
	"bytes"
	"math"
	"strconv"
)

// Blank-frame thresholds on the probe's luma (0-255): a frame whose
// standard deviation is below flatStdDev shows nothing; a dark frame with
// little detail is black (a fade or a cut to black).
const (
	flatStdDev = 6.0
	darkMean   = 24.0
	darkStdDev = 16.0
)

// isBlank reports whether a binary PGM (P5) image is black or flat. An
// image that does not parse counts as blank.
func isBlank(pgm []byte) bool {
	pix, ok := pgmPixels(pgm)
	if !ok || len(pix) == 0 {
		return true
	}
	mean, sd := lumaStats(pix)
	return sd < flatStdDev || (mean < darkMean && sd < darkStdDev)
}

func lumaStats(pix []byte) (mean, sd float64) {
	var sum, sq float64
	for _, p := range pix {
		v := float64(p)
		sum += v
		sq += v * v
	}
	n := float64(len(pix))
	mean = sum / n
	return mean, math.Sqrt(max(0, sq/n-mean*mean))
}

// pgmPixels returns the pixels of an 8-bit binary PGM.
func pgmPixels(b []byte) ([]byte, bool) {
	fields := make([]int, 0, 3)
	if !bytes.HasPrefix(b, []byte("P5")) {
		return nil, false
	}
	i := 2
	for len(fields) < 3 {
		for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
			i++
		}
		if i < len(b) && b[i] == '#' {
			for i < len(b) && b[i] != '\n' {
				i++
			}
			continue
		}
		j := i
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		n, err := strconv.Atoi(string(b[i:j]))
		if err != nil {
			return nil, false
		}
		fields = append(fields, n)
		i = j
	}
	i++ // one whitespace after maxval
	w, h, maxval := fields[0], fields[1], fields[2]
	if maxval > 255 || w*h <= 0 || i+w*h > len(b) {
		return nil, false
	}
	return b[i : i+w*h], true
}
