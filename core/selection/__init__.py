"""Tool selection: keyword (BM25), embedding and two-stage selectors behind one protocol."""
