-- The AI kill switch (`salonbot ai off|on`): model calls stopped for every salon (scope
-- '*') or for one (its id), without a deploy. Customers are then served by the guided
-- flow. Kept apart from `salons` so that a salon re-import never resets it; a switch
-- turned back on keeps its row (who turned it on, and when).

CREATE TABLE ai_switch (
    scope       text PRIMARY KEY
                CHECK (scope = '*' OR scope ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'),
    off         boolean NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now(),
    changed_by  text NOT NULL DEFAULT '' CHECK (length(changed_by) <= 200)
);
