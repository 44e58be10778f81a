package store

import "testing"

func TestWebhooks(t *testing.T) {
	s := New()
	if err := s.PutWebhook(&Webhook{Registry: "nothere", Name: "hook1"}); err != ErrRegistryNotFound {
		t.Fatalf("webhook of a missing registry: %v", err)
	}
	for _, r := range []string{"reg", "other"} {
		if err := s.PutRegistry(&Registry{Name: r, SKU: "Basic"}); err != nil {
			t.Fatal(err)
		}
	}
	headers := map[string]string{"Authorization": "Basic x"}
	w := &Webhook{Registry: "reg", Name: "HookOne", UID: "u1", ServiceURI: "http://127.0.0.1:1/", CustomHeaders: headers, Enabled: true, Actions: []string{"push"}}
	if err := s.PutWebhook(w); err != nil {
		t.Fatal(err)
	}
	headers["Authorization"] = "changed after the put"
	w.Actions[0] = "delete"
	if err := s.PutWebhook(&Webhook{Registry: "reg", Name: "hooktwo"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutWebhook(&Webhook{Registry: "other", Name: "hookone"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetWebhook("reg", "HOOKONE")
	if err != nil || got == nil || got.Name != "HookOne" || got.CustomHeaders["Authorization"] != "Basic x" || got.Actions[0] != "push" {
		t.Fatalf("GetWebhook = %+v, %v (the store must keep its own copy)", got, err)
	}
	if list, _ := s.ListWebhooks("reg"); len(list) != 2 || list[0].Name != "HookOne" || list[1].Name != "hooktwo" {
		t.Fatalf("ListWebhooks(reg) = %+v", list)
	}

	d, err := s.Dump()
	if err != nil || len(d.Webhooks) != 3 {
		t.Fatalf("dump: %v %+v", err, d)
	}
	if err := s.DeleteWebhook("reg", "hookONE"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetWebhook("reg", "hookone"); got != nil {
		t.Fatal("deleted webhook still there")
	}
	if err := s.DeleteRegistry("other"); err != nil {
		t.Fatal(err)
	}
	if list, _ := s.ListWebhooks("other"); len(list) != 0 {
		t.Fatalf("a deleted registry's webhooks: %+v", list)
	}
	if err := s.Restore(d); err != nil {
		t.Fatal(err)
	}
	for _, k := range [][2]string{{"reg", "hookone"}, {"reg", "hooktwo"}, {"other", "hookone"}} {
		if got, _ := s.GetWebhook(k[0], k[1]); got == nil {
			t.Fatalf("restore lost %v", k)
		}
	}
}
