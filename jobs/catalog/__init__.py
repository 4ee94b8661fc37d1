"""What operators manage for every tenant: the pipelines, reference genomes and clusters a workset may name.

A shared app (public schema) nested in ``jobs``: worksets live in each tenant's schema, the catalogue once.
"""
