"""A real file storage that runs out of space on its third save, to test that nothing partial stays."""

import errno
import itertools

from django.core.files.storage import FileSystemStorage


class ThirdSaveFails(FileSystemStorage):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._saves = itertools.count(1)

    def _save(self, name, content):
        if next(self._saves) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return super()._save(name, content)
