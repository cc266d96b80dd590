"""The salon's side: staff identity (Cognito groups), the staff API and the console.

`identity` reads who is calling from the claims API Gateway's Cognito authorizer
verified; `routes` is the staff API (`/api/v1/staff/...`), `console` the HTML pages
(`/console/...`); `sign_in` is the console's user-password sign-in."""

from __future__ import annotations
