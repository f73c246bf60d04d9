package web

import (
	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/workstations"
)

// virtualCardRoutes are the virtual card kinds that live on workstations
// (TPM virtual smart card, platform credential): the feature switches,
// what can be created where, creating one, and a platform credential's
// Set up PIN.
func (s *Server) virtualCardRoutes() []*route {
	v1 := "/api/v1"
	return []*route{
		{method: "GET", path: v1 + "/features", summary: "Feature switches (Create TPM virtual smart card, Create platform credential)", tag: "cards", roles: anyone, out: &apiv1.Features{}, status: 200,
			h: func(c *call) (any, error) { return features(s.catalog.Features(c.r.Context())) }},
		{method: "PUT", path: v1 + "/features", summary: "Set the feature switches", tag: "cards", roles: admins, in: apiv1.Features{}, out: &apiv1.Features{}, status: 200,
			h: func(c *call) (any, error) {
				var in apiv1.Features
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				return features(s.catalog.PutFeatures(c.r.Context(), c.p, lanyard.Features(in)))
			}},
		{method: "GET", path: v1 + "/virtual-cards/options", summary: "Whether each virtual card kind can be created on each of the caller's workstations, and why not", tag: "cards", roles: anyone,
			out: []apiv1.VirtualOption{}, status: 200, query: []param{{"user", "string", "the user the card is for (staff)"}},
			h: func(c *call) (any, error) {
				return virtualOptions(s.cards.VirtualOptions(c.r.Context(), c.p, c.r.URL.Query().Get("user")))
			}},
		{method: "POST", path: v1 + "/virtual-cards", summary: "Create a TPM virtual smart card or a platform credential on a workstation (then issue it like any card)", tag: "cards", roles: anyone,
			in: apiv1.CreateVirtualInput{}, out: &apiv1.ConnectedCard{}, status: 201,
			h: func(c *call) (any, error) {
				var in apiv1.CreateVirtualInput
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				return connectedCard(s.cards.CreateVirtualCard(c.r.Context(), c.p, cardops.CreateVirtualInput(in)))
			}},
		{method: "POST", path: v1 + "/cards/{id}/pin-setup", summary: "Set up PIN of a platform credential: password and authenticator code, then the new PIN", tag: "cards", roles: anyone,
			in: apiv1.PINSetupInput{}, out: &apiv1.CardView{}, status: 200,
			h: func(c *call) (any, error) {
				id, err := c.pathInt("id")
				if err != nil {
					return nil, err
				}
				var in apiv1.PINSetupInput
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				return cardView(s.cards.SetupPIN(c.r.Context(), c.p, id, pinSetupInput(in)))
			}},
		{method: "GET", path: v1 + "/cards/{id}/computers", summary: "The computers allowed to use an AirCard", tag: "cards", roles: anyone,
			out: []apiv1.AirCardComputer{}, status: 200,
			h: func(c *call) (any, error) {
				id, err := c.pathInt("id")
				if err != nil {
					return nil, err
				}
				return airCardComputers(s.workstations.AirCardComputers(c.r.Context(), c.p, id))
			}},
		{method: "DELETE", path: v1 + "/cards/{id}/computers/{workstation}", summary: "Remove a computer from an AirCard's allowed computers (it is disconnected there at once)", tag: "cards", roles: anyone, status: 204,
			h: func(c *call) (any, error) {
				id, err := c.pathInt("id")
				if err != nil {
					return nil, err
				}
				ws, err := c.pathInt("workstation")
				if err != nil {
					return nil, err
				}
				return nil, s.workstations.RemoveAirCardComputer(c.r.Context(), c.p, id, ws)
			}},
		{method: "POST", path: v1 + "/cards/{id}/aircard-codes", summary: "Create a connection code for an AirCard: valid one hour, usable once; shown only in this response, and with mail also sent to the card's owner", tag: "cards", roles: staff,
			in: apiv1.AirCardCodeInput{}, out: &apiv1.AirCardCode{}, status: 201,
			h: func(c *call) (any, error) {
				id, err := c.pathInt("id")
				if err != nil {
					return nil, err
				}
				var in apiv1.AirCardCodeInput
				if c.r.ContentLength != 0 { // the body is optional
					if err := c.decode(&in); err != nil {
						return nil, err
					}
				}
				c.w.Header().Set("Cache-Control", "no-store")
				code, err := s.workstations.CreateAirCardCode(c.r.Context(), c.p, id, workstations.AirCardCodeInput(in))
				return (*apiv1.AirCardCode)(code), err
			}},
	}
}
