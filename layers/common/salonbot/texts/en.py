"""English: every word salonbot writes to a customer who writes in English, and the
language a customer is answered in when theirs has no catalogue.

Button titles stay within WhatsApp's 20 characters and list rows within 24."""

from __future__ import annotations

PHRASES: dict[str, str] = {
    # -- the guided flow ---------------------------------------------------------------
    "greeting": "Hello! This is {salon}.",
    "menu": "How can I help? Pick from the menu or write, e.g. “manicure tomorrow at 3pm”.",
    "menu_button": "Menu",
    "menu_book": "Book",
    "menu_mine": "My bookings",
    "menu_prices": "Prices",
    "menu_address": "Address & hours",
    "menu_human": "Talk to a person",
    "unknown": "Sorry, I didn't understand that.",
    "unknown_step": "Sorry, I didn't catch that. Pick an option or write “menu”.",
    "media": "I can't listen to voice messages or open files — please write in text.",
    "expired": "Your previous choice has expired; let's start again.",
    "confirm_stale": "That button belongs to an earlier option; the current one is below.",
    "thanks": "You're welcome! See you soon.",
    "number_hint": "Reply with the option number or its text.",
    "choose_service": "Which service?",
    "services_button": "Services",
    "choose_master": "{service}. Which master?",
    "masters_button": "Masters",
    "any_master": "Any master",
    "master_not_for_service": "{master} does not do {service}.",
    "choose_day": "{service}{master}. Pick a day:",
    "days_button": "Days",
    "later_days": "Later dates →",
    "free_count": "{count} free",
    "choose_time": "{service}{master}, {day}. Pick a time:",
    "times_button": "Times",
    "later_times": "Later →",
    "other_day": "Another day",
    "no_days": "{service}{master}: no free times in the next {days} days. "
    "Write “person” and the staff will help.",
    "no_days_from": "{service}{master}: no free times from {first} to {last}.",
    "day_full": "{service}{master}: no free times on {day}.",
    "date_passed": "{day} has already passed — please pick another day.",
    "beyond_horizon": "Bookings for {day} are not open yet: we book {days} days ahead.",
    "no_such_date": "There is no such date — please pick a day from the list.",
    "not_offered": "We don't do “{what}”. Here is what we do:",
    "offer_person": "The salon staff can help with that better. Shall I pass your message on?",
    "confirm_again": "Shall I confirm this booking? Please answer “yes” or “no”.",
    "no_time_in_part": "Nothing free at that time of day; here is every free time.",
    "time_not_free": "{time} is not available. Nearest free times:",
    "confirm": "Please check:\n{service}, {when}, master {master}, {price}.",
    "confirm_yes": "Confirm",
    "confirm_other": "Other time",
    "confirm_no": "Cancel",
    "booked": "Done! You are booked: {service}, {when}, master {master}. Booking code: {code}.",
    "slot_taken": "Sorry, that time was just taken. Here is what is free:",
    "slot_unavailable": "That time can no longer be booked. Here is what is free:",
    "client_busy": "You already have a booking at that time. Here is what else is free:",
    "booking_limit": "You already have the most upcoming bookings allowed: {limit}. "
    "You can move or cancel one of them.",
    "declined": "Okay, nothing changed. Write “menu” whenever you need me.",
    "no_bookings": "You have no upcoming bookings.",
    "my_bookings": "Your bookings:",
    "bookings_button": "Bookings",
    "booking_line": "{when} — {service}, master {master}, code {code}",
    "booking_actions": "{booking}. What would you like to do?",
    "action_move": "Reschedule",
    "action_cancel": "Cancel booking",
    "action_menu": "Menu",
    "which_cancel": "Which booking should I cancel?",
    "which_move": "Which booking should I move?",
    "cancel_confirm": "Cancel this booking: {booking}?",
    "cancel_yes": "Yes, cancel it",
    "cancel_no": "No, keep it",
    "cancelled": "Cancelled: {booking}.",
    "move_confirm": "Move {service} to {when}, master {master}?",
    "move_no": "Keep as is",
    "moved": "Done! Your booking is moved: {service}, {when}, master {master}. "
    "Booking code: {code}.",
    "not_changeable": "This booking can no longer be changed. Write “person” and the "
    "staff will help.",
    "booking_not_found": "I found no booking with code {code}.",
    "handoff": "I've passed your message to the salon staff; they will reply here.",
    "handoff_wait": "Your message is with the salon staff; they will reply here. To get "
    "back to the bot, write “menu”.",
    "handoff_ack": "Got it, the staff will reply soon. Write “menu” for the bot.",
    "today": "Today",
    "tomorrow": "Tomorrow",
    "with_master": ", master {master}",
    # -- answers to frequent questions -------------------------------------------------
    "prices_heading": "Prices at {salon}:",
    "price_line": "{service}: {price}, {duration}.",
    "address": "We are at {address}.",
    "no_address": "Please ask the salon staff for the address.",
    "hours_heading": "Opening hours:",
    "hours_line": "{days}: {hours}",
    "closed": "closed",
    "no_hours": "Please ask the salon staff for the opening hours.",
    # -- what the database accepted in a model's turn, and replies the code replaced ---
    "recap_booked": "Done! You are booked: {service}, {when}, with {master}. Booking code: {code}.",
    "recap_moved": "Done! Your booking is moved: {service}, {when}, with {master}. Code: {code}.",
    "recap_cancelled": "Booking {code} ({service}, {when}) is cancelled.",
    "recap_handoff": "We have passed your question to the salon's staff; they will reply soon.",
    "unconfirmed_booking": "I could not confirm that booking. Please choose another time.",
    "refused_reply": "I can only help with salon bookings: services, prices, free times, "
    "booking, moving and cancelling.",
    "model_refusal": "Sorry, I can't help with that. I can tell you about our services and "
    "prices, show free times, and book, move or cancel a visit.",
    # -- fixed answers ---------------------------------------------------------------
    "fixed_reply": "Sorry, something went wrong... Please write to us a little later or call "
    "the salon.",
    "throttled": "You're sending messages very quickly 🙏 Please wait a minute and I'll be "
    "glad to keep helping you.",
}

FORMATS: dict[str, str] = {
    "money": "{amount} {currency}",
    "duration": "{minutes} min",
    "clock": "{hour:02d}:{minute:02d}",
    "date": "{day:02d}.{month:02d}",
    "when": "{date} {clock}",
    "day": "{weekday} {date}",
    "near_day": "{near}, {day}",
    "day_month": "{day} {month}",
    "span": "{first}–{last}",
}

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
