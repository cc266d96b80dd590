-- The staff inbox polls a salon's low feedback ratings (1 or 2 of 5) every few seconds:
-- a small partial index finds them without reading the salon's other bookings.
CREATE INDEX bookings_low_rating_idx ON bookings (salon_id, rated_at) WHERE rating <= 2;
