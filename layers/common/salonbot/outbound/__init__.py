"""Messages the salon starts: reminders and their replies, within WhatsApp's rules."""
