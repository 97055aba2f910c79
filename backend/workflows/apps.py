from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    name = "backend.workflows"
    label = "workflows"
    verbose_name = "Workflows"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from backend.workflows.structure_markers import install_after_migrate

        # Database triggers keep the structure markers; they follow the configured models.
        post_migrate.connect(install_after_migrate, sender=self, dispatch_uid="structure-markers")
        from backend.workflows.broadcast import publish_events
        from backend.workflows.events import add_event_listener
        from backend.workflows.services.registration import connect_auto_start

        connect_auto_start()
        add_event_listener(publish_events)
        # Stored actions and e-mails, after the broadcast (auto-cleanup may delete the attachment).
        from backend.workflows import notifications  # noqa: F401  (registers the e-mail handler)
        from backend.workflows.actions import run_actions_for_events

        add_event_listener(run_actions_for_events)
