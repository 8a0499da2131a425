"""Who is calling the dashboard and the admin API, and what their role lets them do: the admin key,
management keys, dashboard sessions and single sign-on (OpenID Connect)."""
