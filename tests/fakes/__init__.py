"""Small fake servers on 127.0.0.1 that speak the real platforms' wire formats."""
