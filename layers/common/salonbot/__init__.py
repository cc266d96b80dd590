"""salonbot: WhatsApp AI booking assistant for beauty salons."""

__version__ = "0.1.0"
