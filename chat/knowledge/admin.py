"""Operators' global documents, in the admin of the public schema: upload through the same service."""

from django.contrib import admin

from chat.knowledge import services
from chat.knowledge.forms import DocumentUploadForm
from chat.knowledge.models import Chunk, Document


class ChunkInline(admin.TabularInline):
    model = Chunk
    fields = ["ordinal", "heading", "text"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ["title", "source", "filename", "size", "uploaded_by", "created"]
    list_filter = ["source"]
    search_fields = ["title", "filename"]
    readonly_fields = [
        "code",
        "title",
        "source",
        "filename",
        "content_type",
        "size",
        "uploaded_by",
        "created",
    ]
    inlines = [ChunkInline]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:  # adding: a title and a file; the service reads, chunks and indexes it
            kwargs["form"] = DocumentUploadForm
        return super().get_form(request, obj, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ["title", "file"]})]
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def save_model(self, request, obj, form, change):
        if change:
            return
        created = services.add_document(
            title=form.cleaned_data.get("title", ""),
            filename=form.cleaned_data["file"].name,
            data=form.cleaned_data["data"],
            actor=request.user,
        )
        obj.__dict__.update({key: value for key, value in created.__dict__.items() if key != "_state"})
        obj._state.adding, obj._state.db = False, created._state.db

    def delete_model(self, request, obj):
        services.delete_document(obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for document in queryset:
            services.delete_document(document, actor=request.user)
