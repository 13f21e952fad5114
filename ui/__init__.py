"""Streamlit-only helpers: cached loaders, session and sign-in, language, navigation."""
