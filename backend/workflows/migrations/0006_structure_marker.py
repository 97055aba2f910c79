"""The table of structure markers, and the triggers that keep them (see structure_markers)."""

from django.db import migrations, models


def install(apps, schema_editor):
    from backend.workflows.structure_markers import install_structure_triggers

    install_structure_triggers(schema_editor.connection.alias)


def uninstall(apps, schema_editor):
    from backend.workflows.structure_markers import uninstall_structure_triggers

    uninstall_structure_triggers(schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [
        ("workflows", "0005_issue12_event_snapshot"),
    ]

    operations = [
        migrations.CreateModel(
            name="StructureMarker",
            fields=[
                ("scope", models.BigIntegerField(primary_key=True, serialize=False)),
                ("token", models.BigIntegerField()),
            ],
            options={
                "verbose_name": "structure marker",
            },
        ),
        # Installed again after every migrate (post_migrate), for the models configured then.
        migrations.RunPython(install, uninstall),
    ]
