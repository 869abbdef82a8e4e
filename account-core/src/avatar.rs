//! Avatar images: checked by content, decoded with limits, re-encoded as a small square.
