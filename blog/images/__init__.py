"""Kabar's remote image cache, split by question as django-imagekit is.

- discovery: which images a post shows, and which full-size file to cache for each;
- fetching: how to download them safely; processing: what Pillow accepts and makes;
- specs: what variants to produce; naming: where their files go; storing: writing them;
- caching: when it happens (a command or a task); rewriting: pointing posts at the files.
"""
