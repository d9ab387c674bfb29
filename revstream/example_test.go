package revstream_test

import (
	"log"
	"net/http"

	"github.com/hankoauth/hankoauth"
	"github.com/hankoauth/hankoauth/revstream"
	"github.com/hankoauth/hankoauth/webhook"
)

// Each replica follows the stream; the one Hanko's webhook reaches passes
// the revocation on to the others.
func Example() {
	v, err := hankoauth.New(hankoauth.Config{APIURL: "https://auth.example.com"})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()
	stream, err := revstream.Open("redis://:secret@redis:6379/0", v)
	if err != nil {
		log.Fatal(err)
	}
	stream.Start()
	defer stream.Close()
	<-stream.Replayed() // before taking traffic: the revocations in force are applied

	http.Handle(webhook.DefaultPath, webhook.NewHandler(v, webhook.WithRevoker(stream)))
	log.Fatal(http.ListenAndServe(":9002", nil))
}
