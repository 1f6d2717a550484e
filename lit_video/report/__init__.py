"""Reports generated from sweep results: ``lit-video report lecture-claims`` (html and fidelity to come)."""
