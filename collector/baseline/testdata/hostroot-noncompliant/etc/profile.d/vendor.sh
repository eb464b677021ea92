# The vendor's shell customisations.
[ -n "$PS1" ] && umask 002
