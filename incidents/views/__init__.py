"""Portal pages of the incident record, one module per part:

- :mod:`~incidents.views.incident`: report an incident, its page and actions, live feeds
- :mod:`~incidents.views.page`: how the incident page renders (shared by the actions)
- :mod:`~incidents.views.queue`: the queue, "my incidents", the queue's change feed
- :mod:`~incidents.views.saved_views`: saving and deleting a responder's queue views
- :mod:`~incidents.views.closure`: the reporter's confirm or reopen, and the e-mail link
- :mod:`~incidents.views.attachments`: upload, download and removal of files
- :mod:`~incidents.views.common`, :mod:`~incidents.views.paging`: what they share
"""
