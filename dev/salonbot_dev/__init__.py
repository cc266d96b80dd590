"""What runs on a developer's or operator's machine, never in Lambda: the `salonbot`
command (`cli`), the local stack behind `make dev` (`local`) and the fakes of WhatsApp's
side it runs, which tests use too (`fakes`).

It lives outside `layers/common/`, the `CommonLayer`'s ContentUri, so `sam build` never
ships it; the layer's `salonbot` package never imports it (CI checks both)."""
