package convoxfake

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Build export and import, in the shape of a Convox export: a gzipped tar
// holding build.json (the Build) and one image archive per service,
// "<service>.tar". The rack keeps no images, so an "image" is a line
// naming it; what an import needs is build.json.

// exportBuildJSON is the export's member holding the build.
const exportBuildJSON = "build.json"

// buildExport is GET /apps/{app}/builds/{id}.tgz. Only a complete build
// has images to export; any other answers 400.
func (rk *Rack) buildExport(w http.ResponseWriter, _ *http.Request, vars map[string]string) {
	rk.mu.Lock()
	a := rk.appOr404(w, vars["app"])
	if a == nil {
		rk.mu.Unlock()
		return
	}
	b := rk.buildOr404(w, a.name, vars["id"])
	if b == nil {
		rk.mu.Unlock()
		return
	}
	if b.Status != "complete" {
		rk.mu.Unlock()
		writeError(w, http.StatusBadRequest, "build is not complete: "+b.ID)
		return
	}
	build := b.Build
	services := make([]string, 0, len(a.services))
	for _, svc := range a.services {
		services = append(services, svc.Name)
	}
	rk.mu.Unlock()
	data, err := exportArchive(build, services)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", fmt.Sprint(len(data)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
}

// exportArchive renders the export of b. Its time stamps are the build's,
// so exporting the same build twice gives the same bytes.
func exportArchive(b Build, services []string) ([]byte, error) {
	meta, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	put := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(data)), ModTime: b.Ended, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	if err := put(exportBuildJSON, meta); err != nil {
		return nil, err
	}
	for _, svc := range services {
		image := fmt.Sprintf("sandbox image registry.%s/%s:%s.%s\n", rackDomain, b.App, svc, b.ID)
		if err := put(svc+".tar", []byte(image)); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// readExport finds build.json in an export. Its errors are the ones the
// rack gives for a body that is not an export.
func readExport(data []byte) (Build, error) {
	var b Build
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return b, err
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return b, errors.New("invalid build export: no " + exportBuildJSON)
		}
		if err != nil {
			return b, err
		}
		if h.Typeflag != tar.TypeReg || h.Name != exportBuildJSON {
			continue
		}
		meta, err := io.ReadAll(io.LimitReader(tr, 1<<20))
		if err != nil {
			return b, err
		}
		if err := json.Unmarshal(meta, &b); err != nil {
			return b, fmt.Errorf("invalid build export: %s: %v", exportBuildJSON, err)
		}
		return b, nil
	}
}

// buildImportArchive is POST /apps/{app}/builds/import: the body is an
// export. As on a rack, the import is a new build of the app (a new id,
// the export's description, logs and manifest), complete at once, with a
// new release forked from the app's latest one. The answer is the build.
func (rk *Rack) buildImportArchive(w http.ResponseWriter, r *http.Request, vars map[string]string) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxObjectBytes))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "object too large")
		return
	}
	src, err := readExport(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	rk.mu.Lock()
	a := rk.appOr404(w, vars["app"])
	if a == nil {
		rk.mu.Unlock()
		return
	}
	withDefaultService(a)
	now := rk.now().UTC()
	b := &rackBuild{Build: Build{
		ID: convoxID("B"), App: a.name, Description: src.Description, Logs: src.Logs,
		Manifest: firstNonEmpty(src.Manifest, manifestFor(a)), Repository: "registry." + rackDomain + "/" + a.name,
		Status: "complete", Started: now, Ended: now,
	}}
	if b.Logs != "" {
		b.output = strings.Split(strings.TrimSuffix(b.Logs, "\n"), "\n")
	}
	env := map[string]string{}
	if base := rk.latestReleaseLocked(a.name); base != nil {
		env = ParseEnv(base.Env)
	}
	rk.builds = append(rk.builds, b)
	rel := rk.newReleaseLocked(a.name, b.ID, b.Manifest, b.Description, env)
	b.Release = rel.ID
	rk.appendLogLocked(a.name, "build/"+b.ID, "build imported", now)
	view := b.Build
	rk.mu.Unlock()
	rk.report(&BuildCompletion{App: view.App, Build: view.ID, Release: view.Release, At: now})
	WriteJSON(w, http.StatusOK, view)
}
