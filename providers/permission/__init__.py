"""One vCenter permission: a principal's role on one entity, managed alone.

pulumi-vsphere's EntityPermissions owns every permission on its entity (its read loads
all principals, its update removes the ones it does not list), so on the root folder or
a datacenter it would plan to strip the administrators'. This resource grants and revokes
exactly its own principal's permission and never reads another into state.
"""
