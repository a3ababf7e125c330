"""Customer care: tickets (complaints, faults, suggestions, inquiries) that people follow up."""
