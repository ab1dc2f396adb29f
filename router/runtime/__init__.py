"""A worker at run time: the gateway snapshot it serves from (``gateway``) and its key ring
(``keyring``), live config reloads (``reload``), what it serves with (``worker``), the end of its
drain (``drain``) and its body-read timer (``deadlines``). The HTTP edge (``router.http``) and the
supervisor read these; nothing here imports them (the worker names its status service's type
only)."""
