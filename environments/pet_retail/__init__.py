"""Pet-retail e-commerce search environment."""
