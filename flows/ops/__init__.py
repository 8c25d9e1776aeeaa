"""Operations: what talks to the Prefect API or UI (artifacts, alerts, server, history)."""
