package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/client"
)

func cardOfflineCommands() []command {
	return []command{
		{"card unblock-offline", "card unblock-offline ID --challenge CODE [--answers-file FILE]",
			"answer the offline unblock challenge the card's owner reads from their card (lanyard agent unblock --offline); FILE holds the owner's secret answers as JSON [{\"question\":…,\"answer\":…}] when the policy asks for them",
			cardUnblockOffline},
	}
}

func cardUnblockOffline(ctx context.Context, args []string) error {
	cmd := newClientCmd("card unblock-offline")
	challenge := cmd.String("challenge", "", "the challenge the card showed (16 characters; dashes and case do not matter)")
	answersFile := cmd.String("answers-file", "", "a JSON file with the owner's secret answers")
	pos, c, err := cmd.start(args, 1)
	if err != nil {
		return err
	}
	if *challenge == "" {
		return fmt.Errorf("card unblock-offline: --challenge is required")
	}
	in := apiv1.OfflineUnblockInput{Challenge: *challenge}
	if *answersFile != "" {
		b, err := os.ReadFile(*answersFile)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &in.Answers); err != nil {
			return fmt.Errorf("%s: %w", *answersFile, err)
		}
	}
	var out apiv1.OfflineUnblockResult
	if _, err := c.Post(ctx, "/api/v1/cards/"+client.Esc(pos[0])+"/offline-unblock", in, &out); err != nil {
		return err
	}
	if cmd.output == "json" {
		return printJSON(&out)
	}
	fmt.Printf("Response for card %s: %s\n", out.Serial, out.Response)
	fmt.Println("Read it to the card's owner; it fits this challenge only.")
	if out.PUKReleased {
		fmt.Println("This card is a standard PIV card: the response carries its Admin PIN (PUK), which the owner's tool changes at once; otherwise Lanyard changes it when the card is next connected. Do not write it down.")
	}
	return nil
}
