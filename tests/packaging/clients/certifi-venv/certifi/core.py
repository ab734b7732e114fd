import os


def where():
    return os.path.join(os.path.dirname(__file__), "cacert.pem")


def contents():
    with open(where(), encoding="ascii") as f:
        return f.read()
