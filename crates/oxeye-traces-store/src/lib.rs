//! oxeye trace store (being built).
