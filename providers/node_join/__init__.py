"""NodeJoin: a node's join material outlives its join by nothing.

Per node VM of a bootstrap-mode stack: create the node's bootstrap token in the API (a
Secret with an expiration), wait (bounded) until the node has registered as that VM, then
delete the token and remove the secret-bearing guestinfo keys from the VM, keeping the
metadata. A node that does not join keeps its user-data for a retry until its join window
(the token's lifetime from the VM's creation) ends; then the material is removed anyway.
"""
