package wordfilter_test

import (
	"fmt"
	"sync/atomic"

	"github.com/stadion-dev/stadion/internal/live/wordfilter"
)

func ExampleMatcher_Find() {
	var current atomic.Pointer[wordfilter.Matcher] // swapped whole on hot reload
	current.Store(wordfilter.New([]string{"Fuck", "傻逼"}))

	for _, comment := range []string{"ｆ．ｕ．ｃ．ｋ", "你个傻 逼", "a classic race"} {
		word, ok := current.Load().Find(comment)
		fmt.Printf("%q %v\n", word, ok)
	}
	fmt.Println(wordfilter.Normalize("ＷＨＡＴ  the f\u200bu-ck"))
	// Output:
	// "Fuck" true
	// "傻逼" true
	// "" false
	// what the fu.ck
}
