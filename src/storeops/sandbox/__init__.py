"""Local HTTP emulators of the vendors (they play the vendor, not us) and the store simulator."""
