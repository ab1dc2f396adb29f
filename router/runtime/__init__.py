"""A worker at run time: the gateway snapshot it serves from (``gateway``), its live config
reloads (``reload``) and what it serves with (``worker``). The HTTP edge (``router.http``),
the status page and the supervisor read these; nothing here imports them."""
