package pcsc

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/ebfe/scard"
)

// Event reports a change in a reader: a card inserted (Present, with its
// ATR) or removed, or the reader itself gone (Gone).
type Event struct {
	Reader  string
	Present bool
	ATR     []byte
	Gone    bool
}

// pnpReader is PC/SC's pseudo-reader whose state changes when readers are
// added or removed (PC/SC part 5, SCardGetStatusChange).
const pnpReader = `\\?PnP?\Notification`

// watchPoll bounds each wait so that context cancellation is noticed even
// if SCardCancel is lost; pcscd itself delivers changes at once.
const watchPoll = 500 * time.Millisecond

// Watch reports the current state of every reader, then every change,
// until ctx ends. It uses its own PC/SC context, so it does not block
// other calls on c. Changes reach fn as pcscd sees them (vpcd cards within
// about a second of being attached or removed).
func (c *Context) Watch(ctx context.Context, fn func(Event)) error {
	wc, err := scard.EstablishContext()
	if err != nil {
		return wrap("establish a PC/SC context for watching", err)
	}
	defer wc.Release()
	stop := context.AfterFunc(ctx, func() { wc.Cancel() })
	defer stop()

	known := map[string]Event{}
	for ctx.Err() == nil {
		names, err := wc.ListReaders()
		if err != nil && !errors.Is(err, scard.ErrNoReadersAvailable) {
			return wrap("list readers", err)
		}
		for r, ev := range known {
			if !slices.Contains(names, r) {
				delete(known, r)
				fn(Event{Reader: r, Gone: true, ATR: ev.ATR})
			}
		}
		states := []scard.ReaderState{{Reader: pnpReader, CurrentState: scard.StateUnaware}}
		for _, r := range names {
			states = append(states, scard.ReaderState{Reader: r, CurrentState: scard.StateUnaware})
		}
		// Inner loop: wait for changes until the reader list changes.
		for ctx.Err() == nil {
			err := wc.GetStatusChange(states, watchPoll)
			switch {
			case errors.Is(err, scard.ErrTimeout):
				continue
			case errors.Is(err, scard.ErrCancelled):
				return ctx.Err()
			case err != nil:
				return wrap("wait for reader changes", err)
			}
			relist := false
			for i := range states {
				st := &states[i]
				if st.EventState&scard.StateChanged == 0 {
					continue
				}
				st.CurrentState = st.EventState &^ scard.StateChanged
				if st.Reader == pnpReader {
					relist = true
					continue
				}
				if st.EventState&(scard.StateUnknown|scard.StateUnavailable) != 0 {
					relist = true
					continue
				}
				ev := Event{Reader: st.Reader, Present: st.EventState&scard.StatePresent != 0}
				if ev.Present {
					ev.ATR = slices.Clone(st.Atr)
				}
				if old, ok := known[st.Reader]; !ok || old.Present != ev.Present || !bytes.Equal(old.ATR, ev.ATR) {
					known[st.Reader] = ev
					fn(ev)
				}
			}
			if relist {
				break
			}
		}
	}
	return ctx.Err()
}
