"""The flow of one plan: data -> scenario -> inputs -> model -> solve -> result -> check."""
