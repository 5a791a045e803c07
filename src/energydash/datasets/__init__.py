"""OpenElectricity dataset IO: read and validate, convert to CSV, acquire, generate samples."""
