package capture

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
)

// Stream protocols (not HTTP) of an API job: ffmpeg dials the checked
// address itself, so the source's host is replaced by that address and
// ffmpeg may use only the protocols the scheme needs. RTSP is not among
// them: an RTSP server may redirect ffmpeg to another host or have it
// open UDP ports of its choosing, which no check here could follow.
var streamInputs = map[string]input{
	"rtmp":  {protocols: "rtmp,tcp", formats: "flv,live_flv"},
	"rtmps": {protocols: "rtmps,tls,tcp", formats: "flv,live_flv"},
	"srt":   {protocols: "srt", formats: "mpegts"},
}

// errRTSP refuses RTSP sources for jobs added through the API.
var errRTSP = errors.New("RTSP sources can only be read by jobs declared in stadion.yaml (an RTSP server may redirect to hosts capture.allow does not name)")

// reachOf is what a job may reach: capture.allow for an API job, any
// address for a job of the file.
func (s *Service) fetcherOf(j *job) *fetcher {
	if j.origin == originAPI {
		return s.apiFetch
	}
	return s.fileFetch
}

// input prepares what ffmpeg opens for one capture of j: an HTTP source
// through a relay session (sess; the caller ends it), a stream source of
// an API job checked and pinned to its address, anything else as it is.
func (s *Service) input(ctx context.Context, j *job) (in input, sess *session, err error) {
	u, err := url.Parse(j.spec.Source)
	if err != nil || len(u.Scheme) < 2 {
		if j.origin == originAPI {
			return input{}, nil, fmt.Errorf("capture: the source is not a URL")
		}
		return input{url: j.spec.Source}, nil, nil
	}
	switch {
	case u.Scheme == "http" || u.Scheme == "https":
		sess = s.relay.open(s.fetcherOf(j))
		link, err := sess.link(u)
		if err != nil {
			sess.end()
			return input{}, nil, err
		}
		return input{url: link, protocols: relayProtocols, formats: relayFormats}, sess, nil
	case j.origin != originAPI:
		return input{url: j.spec.Source}, nil, nil
	case u.Scheme == "rtsp":
		return input{}, nil, errRTSP
	}
	in, ok := streamInputs[u.Scheme]
	if !ok {
		return input{}, nil, &refusedError{url: shownURL(u), reason: "unsupported scheme"}
	}
	addrs, err := s.apiFetch.reach.resolve(ctx, u.Hostname(), portOf(u), shownURL(u))
	if err != nil {
		return input{}, nil, err
	}
	pinned := *u
	pinned.Host = net.JoinHostPort(addrs[0].Addr().String(), portOf(u))
	in.url = pinned.String()
	return in, nil, nil
}
