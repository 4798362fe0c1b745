package sdk_test

import (
	"context"
	"log"
	"net/http"
	"time"

	"github.com/iter8-tools/iter8/pkg/abn/sdk"
)

// A front end asks which version of its back end a user gets, routes the
// request there by header, and records the purchase the user makes.
func ExampleClient() {
	ctx := context.Background()
	abn, err := sdk.New("iter8-abn.shop:50051",
		sdk.WithDefaultVersion("v1"), // when the service cannot answer in time
		sdk.WithErrorHandler(func(err error) { log.Printf("iter8: %v", err) }))
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = abn.Close(ctx) // sends the values still queued
	}()

	user := "ann"
	v, _ := abn.Lookup(ctx, "checkout", user) // never an error with a default version
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://recommender.shop/recommend", nil)
	req.Header.Set(v.HeaderName, v.HeaderValue) // the Route's abn strategy routes by it
	// ... send req, show the recommendation; the user buys for 42.50:
	if err := abn.WriteMetric(ctx, "checkout", user, "sales", 42.50); err != nil {
		log.Print(err)
	}
}
