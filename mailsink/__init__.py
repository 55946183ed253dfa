"""Development mail sink: a local SMTP server that keeps every message as an .eml file
and shows them on a small web page (`python -m mailsink`)."""
