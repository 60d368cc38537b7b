"""The one error the compiler raises: which resource, which field, what is wrong."""


class CompileError(Exception):
    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
