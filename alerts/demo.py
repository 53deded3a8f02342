def seed(*, organization, users, stdout):
    pass
