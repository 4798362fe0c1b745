// Package app is the example app of the A/B/n walk-through: an online shop
// whose front end asks iter8 which version of its recommendation back end
// each shopper gets, sends the shopper's request to that version with the
// x-iter8-version header, and records the value of each purchase as the
// business metric "sales".
//
// Two versions of the back end recommend differently: v1 a cheaper product
// that 30% of shoppers buy, v2 a dearer one that 35% buy. Shoppers decide
// deterministically (by a hash of their ID), so a run is reproducible.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"

	"github.com/iter8-tools/iter8/pkg/abn"
	"github.com/iter8-tools/iter8/pkg/abn/sdk"
)

// Metric is the business metric the front end records.
const Metric = "sales"

// Recommendation is what a back end answers.
type Recommendation struct {
	// Version of the back end that answered.
	Version string `json:"version"`
	// Product recommended.
	Product string `json:"product"`
	// Price of the product.
	Price float64 `json:"price"`
	// Conversion is the share of shoppers who buy it.
	Conversion float64 `json:"conversion"`
}

// recommendations of the versions the example knows; any other version
// recommends like v1.
var recommendations = map[string]Recommendation{
	"v1": {Product: "headphones", Price: 40, Conversion: 0.30},
	"v2": {Product: "noise-cancelling headphones", Price: 45, Conversion: 0.35},
}

// Backend is version's recommendation back end: GET /recommend.
func Backend(version string) http.Handler {
	rec, ok := recommendations[version]
	if !ok {
		rec = recommendations["v1"]
	}
	rec.Version = version
	mux := http.NewServeMux()
	mux.HandleFunc("GET /recommend", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set(abn.HeaderName, version)
		writeJSON(w, http.StatusOK, rec)
	})
	return mux
}

// Router stands in for a Route with the abn strategy where there is no
// mesh: it proxies each request to the version its x-iter8-version header
// names, and requests without a known version to the primary.
func Router(primary string, versions map[string]*url.URL) (http.Handler, error) {
	if _, ok := versions[primary]; !ok {
		return nil, fmt.Errorf("primary %q is not one of the versions", primary)
	}
	proxies := map[string]*httputil.ReverseProxy{}
	for v, u := range versions {
		proxies[v] = httputil.NewSingleHostReverseProxy(u)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := proxies[r.Header.Get(abn.HeaderName)]
		if !ok {
			p = proxies[primary]
		}
		p.ServeHTTP(w, r)
	}), nil
}

// Frontend is the shop's front end: GET /shop?user=ID.
type Frontend struct {
	// ABN is the A/B/n client.
	ABN *sdk.Client
	// App is the application's name in iter8.
	App string
	// Backend is the back end's base URL: the Route's host in a cluster,
	// or a Router.
	Backend string
	// Client calls the back end; default http.DefaultClient.
	Client *http.Client
}

// Visit is what the front end answers for a shopper's visit.
type Visit struct {
	// User is the shopper.
	User string `json:"user"`
	// Version is the back end's version that served the shopper.
	Version string `json:"version"`
	// Fallback is true when iter8 did not answer and the default version
	// was used.
	Fallback bool `json:"fallback,omitempty"`
	// Product is the recommended product.
	Product string `json:"product"`
	// Bought says whether the shopper bought it.
	Bought bool `json:"bought"`
	// Price is what the shopper paid, 0 if nothing.
	Price float64 `json:"price,omitempty"`
}

// ServeHTTP serves a visit: look the shopper up, get a recommendation from
// the version they are assigned to, and record the sale if they buy.
func (f *Frontend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user := r.URL.Query().Get("user")
	if user == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "query parameter user is required"})
		return
	}
	visit, err := f.visit(r.Context(), user)
	if err != nil {
		writeJSON(w, http.StatusBadGateway, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, visit)
}

func (f *Frontend) visit(ctx context.Context, user string) (Visit, error) {
	v, err := f.ABN.Lookup(ctx, f.App, user)
	if err != nil {
		return Visit{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.Backend+"/recommend", nil)
	if err != nil {
		return Visit{}, err
	}
	req.Header.Set(v.HeaderName, v.HeaderValue)
	client := f.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return Visit{}, fmt.Errorf("asking the back end: %w", err)
	}
	defer resp.Body.Close()
	var rec Recommendation
	if resp.StatusCode != http.StatusOK {
		return Visit{}, fmt.Errorf("the back end answered %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&rec); err != nil {
		return Visit{}, fmt.Errorf("reading the back end's answer: %w", err)
	}
	visit := Visit{User: user, Version: rec.Version, Fallback: v.Fallback, Product: rec.Product}
	if Buys(user, rec.Conversion) {
		visit.Bought, visit.Price = true, rec.Price
		if err := f.ABN.WriteMetric(ctx, f.App, user, Metric, rec.Price); err != nil {
			return Visit{}, fmt.Errorf("recording the sale: %w", err)
		}
	}
	return visit, nil
}

// Buys says whether a shopper buys a product that a share conversion of
// shoppers buy: the same answer for the same shopper every time.
func Buys(user string, conversion float64) bool {
	h := fnv.New64a()
	_, _ = h.Write([]byte(user))
	return float64(h.Sum64()%10000)/10000 < conversion
}

// Tally counts the visits of shoppers by version.
type Tally struct {
	// Users per version.
	Users map[string]int64 `json:"users"`
	// Purchases per version.
	Purchases map[string]int64 `json:"purchases"`
	// Revenue per version.
	Revenue map[string]float64 `json:"revenue"`
	// Fallbacks is the number of visits served by the default version.
	Fallbacks int64 `json:"fallbacks"`
}

// Shop sends one visit per user to the front end at frontendURL, with up to
// concurrency visits at once, and tallies them.
func Shop(ctx context.Context, frontendURL string, users []string, concurrency int) (Tally, error) {
	t := Tally{Users: map[string]int64{}, Purchases: map[string]int64{}, Revenue: map[string]float64{}}
	var mu sync.Mutex
	var errs []error
	work := make(chan string)
	var wg sync.WaitGroup
	for range max(concurrency, 1) {
		wg.Go(func() {
			for user := range work {
				v, err := visit(ctx, frontendURL, user)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					t.Users[v.Version]++
					if v.Bought {
						t.Purchases[v.Version]++
						t.Revenue[v.Version] += v.Price
					}
					if v.Fallback {
						t.Fallbacks++
					}
				}
				mu.Unlock()
			}
		})
	}
	for _, u := range users {
		work <- u
	}
	close(work)
	wg.Wait()
	return t, errors.Join(errs...)
}

func visit(ctx context.Context, frontendURL, user string) (Visit, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, frontendURL+"/shop?user="+url.QueryEscape(user), nil)
	if err != nil {
		return Visit{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Visit{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Visit{}, fmt.Errorf("visit of %s: %s", user, resp.Status)
	}
	var v Visit
	err = json.NewDecoder(resp.Body).Decode(&v)
	return v, err
}

// Shoppers are the IDs of n shoppers.
func Shoppers(n int) []string {
	users := make([]string, n)
	for i := range users {
		users[i] = fmt.Sprintf("shopper-%d", i)
	}
	return users
}

// Local runs back ends v1 and v2, a Router and a Frontend using c on
// loopback ports, sends the users to the front end (8 at a time), and
// returns what they did. Their sales may still be queued in c: Flush or
// Close it to record them.
func Local(ctx context.Context, c *sdk.Client, name string, users []string, log io.Writer) (Tally, error) {
	v1, stop1, err := start(Backend("v1"))
	if err != nil {
		return Tally{}, err
	}
	defer stop1()
	v2, stop2, err := start(Backend("v2"))
	if err != nil {
		return Tally{}, err
	}
	defer stop2()
	router, err := Router("v1", map[string]*url.URL{"v1": v1, "v2": v2})
	if err != nil {
		return Tally{}, err
	}
	r, stopRouter, err := start(router)
	if err != nil {
		return Tally{}, err
	}
	defer stopRouter()
	f, stopFrontend, err := start(&Frontend{ABN: c, App: name, Backend: r.String()})
	if err != nil {
		return Tally{}, err
	}
	defer stopFrontend()
	fmt.Fprintf(log, "back ends v1 %s and v2 %s, router %s, front end %s\n", v1, v2, r, f)
	return Shop(ctx, f.String(), users, 8)
}

// start serves h on a free loopback port until stop is called.
func start(h http.Handler) (*url.URL, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return &url.URL{Scheme: "http", Host: l.Addr().String()}, func() { _ = srv.Close() }, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
