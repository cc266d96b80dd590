-- Model experiments per salon, and what the conversation review reads.
--
-- salons.model_experiment: the salon file's `model_experiment` ({"arms": [{id, model,
-- weight, temperature}]}), NULL when the salon runs no experiment.
-- ai_conversations.experiment_arm: the arm the conversation was given on its first turn
-- in an experiment; kept, so a later change of weights never moves a running conversation.
-- ai_messages.experiment_arm: the arm of the conversation when the message was stored.
-- ai_messages.handoff: the reply passed the conversation to staff.
-- ai_messages.notes: what the router and the agent noted about the reply
-- ("fallback: model_error", "guardrail: unconfirmed_booking", ...).

ALTER TABLE salons
    ADD COLUMN model_experiment jsonb;

ALTER TABLE ai_conversations
    ADD COLUMN experiment_arm text;

ALTER TABLE ai_messages
    ADD COLUMN experiment_arm text,
    ADD COLUMN handoff boolean NOT NULL DEFAULT false,
    ADD COLUMN notes text[];
