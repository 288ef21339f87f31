// Open-loop load generator for plugin sockets: C keep-alive connections over a unix
// socket, requests scheduled at a fixed aggregate rate R (connection i sends at
// start + i/R + k*C/R), each connection alternating IpamDriver.RequestAddress and
// IpamDriver.ReleaseAddress of the address it got, with the bytes the anchor's load
// generator (Go's net/http client) puts on the wire.
//
// Latency is charged from the SCHEDULED send time whenever the connection was still
// waiting for the server at that time (no coordinated omission: a stalled server is
// charged for every request it delayed). When the connection was idle at the
// scheduled time, the clock starts at the actual send, so the generator's own timer
// lateness (Go wakes sleepers with ~1 ms granularity) is not charged to the server;
// that lateness is reported as lag_*. sched_* are the plain from-schedule figures.
//
// Prints one JSON line.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"
)

type reply struct {
	Address string
	Err     string
}

type sample struct {
	lat, fromSched, lag time.Duration
	idle                bool
}

type result struct {
	Rate       float64 `json:"rate"`
	Conns      int     `json:"conns"`
	Seconds    float64 `json:"seconds"`
	Requests   int     `json:"requests"`
	Errors     int     `json:"errors"`
	Achieved   float64 `json:"achieved"`
	P50        float64 `json:"p50_us"`
	P90        float64 `json:"p90_us"`
	P99        float64 `json:"p99_us"`
	P999       float64 `json:"p999_us"`
	Max        float64 `json:"max_us"`
	SchedP99   float64 `json:"sched_p99_us"`
	SchedMax   float64 `json:"sched_max_us"`
	LagP99     float64 `json:"lag_p99_us"`
	Backlogged float64 `json:"backlogged"`
}

func request(path string, body []byte) []byte {
	// Header order and values as Go's net/http client writes them (the anchor's generator).
	return []byte("POST " + path + " HTTP/1.1\r\nHost: plugin\r\nUser-Agent: Go-http-client/1.1\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\nAccept: application/vnd.docker.plugins.v1.2+json\r\nAccept-Encoding: gzip\r\n\r\n" + string(body))
}

func call(c net.Conn, r *bufio.Reader, msg []byte) (reply, error) {
	var out reply
	if _, err := c.Write(msg); err != nil {
		return out, err
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		return out, err
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return out, err
	}
	json.Unmarshal(data, &out)
	if resp.StatusCode != 200 {
		return out, fmt.Errorf("status %d", resp.StatusCode)
	}
	if out.Err != "" {
		return out, fmt.Errorf("%s", out.Err)
	}
	return out, nil
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }

func main() {
	sock := flag.String("socket", "", "unix socket")
	conns := flag.Int("c", 16, "connections")
	rate := flag.Float64("rate", 1000, "aggregate requests per second")
	dur := flag.Duration("d", 5*time.Second, "measured duration")
	warm := flag.Duration("warmup", 500*time.Millisecond, "run at the rate this long before measuring")
	pool := flag.String("pool", "LocalDefault/10.0.0.0/16", "pool id")
	flag.Parse()
	if *sock == "" || *conns < 1 || !(*rate > 0) || *dur <= 0 {
		fmt.Fprintln(os.Stderr, "openload: need -socket, -c >= 1, -rate > 0, -d > 0")
		os.Exit(2)
	}
	reqBody, _ := json.Marshal(map[string]interface{}{"PoolID": *pool, "Address": "", "Options": map[string]string{}})
	reqMsg := request("/IpamDriver.RequestAddress", reqBody)

	cs := make([]net.Conn, *conns)
	for i := range cs {
		c, err := net.Dial("unix", *sock)
		if err != nil {
			fmt.Fprintln(os.Stderr, "openload:", err)
			os.Exit(1)
		}
		cs[i] = c
	}
	interval := time.Duration(float64(*conns) / *rate * 1e9)
	start := time.Now().Add(20 * time.Millisecond)
	measureFrom := start.Add(*warm)
	end := measureFrom.Add(*dur)
	drain := end.Add(2 * time.Second) // a server this far behind has failed the rate; stop sending

	var mu sync.Mutex
	var all []sample
	errs, backlog := 0, 0
	var lastRecv time.Time
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func(i int, c net.Conn) {
			defer wg.Done()
			r := bufio.NewReaderSize(c, 4096)
			local := make([]sample, 0, int(float64(*dur+*warm)/float64(interval))+16)
			le, lb := 0, 0
			var prevRecv time.Time
			addr := ""
			for k := 0; ; k++ {
				sched := start.Add(time.Duration(i)*interval/time.Duration(*conns) + time.Duration(k)*interval)
				if !sched.Before(end) || time.Now().After(drain) {
					break
				}
				if d := time.Until(sched); d > 0 {
					time.Sleep(d)
				}
				sentAt := time.Now()
				idle := !prevRecv.After(sched)
				var msg []byte
				if addr == "" {
					msg = reqMsg
				} else {
					b, _ := json.Marshal(map[string]interface{}{"PoolID": *pool, "Address": addr})
					msg = request("/IpamDriver.ReleaseAddress", b)
				}
				rep, err := call(c, r, msg)
				recv := time.Now()
				prevRecv = recv
				releasing := addr != ""
				addr = ""
				if err != nil {
					if _, ok := err.(net.Error); ok || err == io.EOF {
						le++
						break
					}
				} else if !releasing {
					addr = rep.Address
					for j := 0; j < len(addr); j++ {
						if addr[j] == '/' {
							addr = addr[:j]
							break
						}
					}
				}
				if sched.Before(measureFrom) {
					continue
				}
				if err != nil {
					le++
				}
				s := sample{fromSched: recv.Sub(sched), idle: idle}
				if idle {
					s.lat, s.lag = recv.Sub(sentAt), sentAt.Sub(sched)
				} else {
					s.lat = s.fromSched
					lb++
				}
				local = append(local, s)
			}
			c.Close()
			mu.Lock()
			all = append(all, local...)
			errs, backlog = errs+le, backlog+lb
			if prevRecv.After(lastRecv) {
				lastRecv = prevRecv
			}
			mu.Unlock()
		}(i, c)
	}
	wg.Wait()
	n := len(all)
	if n == 0 {
		fmt.Fprintln(os.Stderr, "openload: no requests completed")
		os.Exit(1)
	}
	pick := func(get func(sample) time.Duration, qs ...float64) []time.Duration {
		v := make([]time.Duration, 0, n)
		for _, s := range all {
			v = append(v, get(s))
		}
		sort.Slice(v, func(a, b int) bool { return v[a] < v[b] })
		out := make([]time.Duration, len(qs))
		for j, q := range qs {
			out[j] = v[int(float64(len(v)-1)*q)]
		}
		return out
	}
	lat := pick(func(s sample) time.Duration { return s.lat }, 0.5, 0.9, 0.99, 0.999, 1)
	sch := pick(func(s sample) time.Duration { return s.fromSched }, 0.99, 1)
	lag := pick(func(s sample) time.Duration { return s.lag }, 0.99)
	span := lastRecv.Sub(measureFrom)
	if span < *dur {
		span = *dur
	}
	res := result{
		Rate: *rate, Conns: *conns, Seconds: dur.Seconds(), Requests: n, Errors: errs,
		Achieved: float64(n) / span.Seconds(),
		P50:      us(lat[0]), P90: us(lat[1]), P99: us(lat[2]), P999: us(lat[3]), Max: us(lat[4]),
		SchedP99: us(sch[0]), SchedMax: us(sch[1]), LagP99: us(lag[0]),
		Backlogged: float64(backlog) / float64(n),
	}
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
}
